import 'reflect-metadata';
import { bootstrap } from './bootstrap.js';

/** Worker entry point: processors and cron, no HTTP listener. */
void bootstrap('worker');
