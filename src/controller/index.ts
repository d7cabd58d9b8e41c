export { claimedExternalIPs, decide, desiredStatus, rebuildAllocator, type Decision, type ExternalIPRefusal } from './assign.ts';
export { Controller, type ControllerOptions } from './controller.ts';
export { ConditionType, EventReason, FailureReason } from './errors.ts';
export { LeaderElector, type LeaderElectionOptions } from './leader.ts';
export { runController, type RunControllerOptions, type RunningController } from './run.ts';
