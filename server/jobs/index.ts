export { producerOptions, queuePrefix, startWorker, workerConnection, workerOptions, type QueueSettings, type RunningWorker } from './queues.ts';
