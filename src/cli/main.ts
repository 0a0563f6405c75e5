// Entry point of the berth CLI. Node strips the TypeScript of every module on each start; the compile cache
// keeps the result (and V8's code cache) between runs, which roughly halves start-up time. It has to be on
// before any other module loads, hence this tiny file and the dynamic import.
process.getBuiltinModule('node:module').enableCompileCache?.();
await import('./dispatch.ts');
