// The data layer's public surface.

export * from './alerts.ts';
export * from './audit.ts';
export * from './claims.ts';
export * from './connect.ts';
export * from './migrate.ts';
export * from './policy-verdicts.ts';
export * from './report.ts';
export * from './repos.ts';
export * from './retention.ts';
export * from './runs.ts';
export * from './scheduler-state.ts';
export * from './scores.ts';
