import path from 'node:path';

// The project folder, whether we run from src/ (TypeScript) or from build/src/ (types stripped by setup).
const up = path.resolve(import.meta.dirname, '../..');
export const PROJECT_ROOT = path.basename(up) === 'build' ? path.dirname(up) : up;
