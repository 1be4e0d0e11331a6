import { SetMetadata } from '@nestjs/common';

export const SWEEPER = Symbol('SWEEPER');

/**
 * Marks a provider method `() => Promise<number>` as a sweeper: once a minute (worker role only)
 * it re-queues the durable rows its module left unqueued (a crash between commit and enqueue,
 * the queue backend down) and resolves rows stuck half-way, and returns how many jobs it queued.
 * Each sweeper runs under its own advisory lock, `sweep.<name>` (see JobsSweeps).
 */
export const Sweeper = (name: string): MethodDecorator => SetMetadata(SWEEPER, name);
