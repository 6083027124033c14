/** Powertools logger and metrics, one instance per container. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const logger = new Logger({ serviceName: 'abrec' });
export const metrics = new Metrics({ namespace: 'Abrec', serviceName: 'abrec' });
