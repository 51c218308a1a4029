/**
 * The logger library's public face (for the supervisor, the scanner and the CLI):
 *
 *   LogEngine        s6-log's behaviour on bytes you feed (engine.ts header: the whole API and memory bounds)
 *   PipeFeeder       reads a non-blocking pipe fd into an engine, with back-pressure (feeder.ts)
 *   ServiceLogger    in-supervisor logging of one service: declaration + engine + feeder (service-logger.ts)
 *   readLogDeclaration  SVC/log-dir + SVC/log-script → what ServiceLogger.start() needs
 *   parseScript / parseLogArgs  the s6-log script and command line
 *   reader.ts        reading a logdir back (vigil logs)
 */
export { LogEngine, LogEngineOptions, READ_QUANTUM, BIG_READ, DEFAULT_LINE_LIMIT, DEFAULT_MAX_BUFFERED } from './engine';
export { PipeFeeder, PipeFeederOptions } from './feeder';
export {
  ServiceLogger, ServiceLoggerHooks, LogDeclaration, LogDeclarationError, readLogDeclaration,
  LOG_DIR_FILE, LOG_SCRIPT_FILE, SERVICE_MAX_BUFFERED,
} from './service-logger';
export { parseScript, Script, ScriptError } from './script';
export { parseLogArgs, LogArgs } from './args';
export { LogdirFatal, isArchiveName } from './logdir';
export { resolveLogdir, logFiles } from './reader';
