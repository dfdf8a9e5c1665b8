export { BEHAVIOURS, DEFAULT_MIX, PROFILES, type ProfileName, TITLES, WITHDRAWALS } from './behaviours.js';
export { type FaultRates, type FaultStats, NO_FAULTS } from './faults.js';
export { isUsageError, parseCli, parseDuration, parseFaults, USAGE, UsageError } from './options.js';
export { CHECKS, type CheckName, type Violation } from './record.js';
export { htmlReport } from './report.js';
export {
  type Progress,
  runSimulation,
  SIMULATION_START,
  type SimulationOptions,
  type SimulationResult,
  type Summary,
} from './simulation.js';
