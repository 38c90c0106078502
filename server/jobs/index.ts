export { producerOptions, queuePrefix, startWorker, workerConnection, workerOptions, type QueueSettings, type RunningWorker } from './queues.ts';
export { DEPTH_STATES, queueDepths, type QueueDepth } from './queue-depths.ts';
