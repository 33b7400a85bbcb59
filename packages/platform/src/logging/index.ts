export * from './correlation.js';
export * from './redact.js';
export * from './logger.js';
export * from './nest-logger.js';
export * from './logging.module.js';
