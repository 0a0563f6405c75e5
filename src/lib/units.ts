// Shared with the CLI: Docker's human-readable sizes and durations (go-units).
export { humanDuration, humanSize } from '../cli/format/units.ts';
