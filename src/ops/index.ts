// Every kernel family's launch functions, for library users (`import { ops } from 'saln'`).
export * from './matmul.ts';
export * from './conv.ts';
export * from './elementwise.ts';
export * from './reduce.ts';
export * from './transpose.ts';
export * from './fill.ts';
export * from './random.ts';
export * from './batchnorm.ts';
export * from './pool.ts';
export * from './relu.ts';
export * from './linear.ts';
export * from './loss.ts';
export * from './optimizer.ts';
export * from './augment.ts';
