export { producerOptions, queuePrefix, workerConnection, workerOptions, type QueueSettings } from './queues.ts';
