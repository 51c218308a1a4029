/**
 * Every name of s6's on-disk protocol, in one place (s6-protocol.md §2–4, §8, §10). Nothing else in vigil
 * spells "supervise/status".
 */
export const SUPERVISE_DIR = 'supervise';
export const EVENT_DIR = 'event';
export const STATUS_FILE = 'supervise/status';
export const STATUS_NEW = 'supervise/status.new';
export const CONTROL_FIFO = 'supervise/control';
export const LOCK_FILE = 'supervise/lock';
export const DEATH_TALLY = 'supervise/death_tally';
export const DEATH_TALLY_NEW = 'supervise/death_tally.new';
export const SERVICE_LOCK = 'supervise/service-lock';
/** vigil's own: which process run became (pid, start time), so a restarted scanner adopts it (runrecord.ts) */
export const RUN_RECORD = 'supervise/vigil-run';

export const RUN = 'run';
export const FINISH = 'finish';
export const DOWN = 'down';
export const NOTIFICATION_FD = 'notification-fd';
export const LOCK_FD = 'lock-fd';
export const TIMEOUT_KILL = 'timeout-kill';
export const TIMEOUT_FINISH = 'timeout-finish';
export const MAX_DEATH_TALLY = 'max-death-tally';
export const DOWN_SIGNAL = 'down-signal';
export const LOG_SUBDIR = 'log';

export const SVSCAN_DIR = '.s6-svscan';
export const SVSCAN_CONTROL = '.s6-svscan/control';
export const SVSCAN_LOCK = '.s6-svscan/lock';
export const SVSCAN_FINISH = '.s6-svscan/finish';
export const SVSCAN_CRASH = '.s6-svscan/crash';
/** the catch-all logger's service name: a `log/` inside it is ignored */
export const SVSCAN_LOG_SERVICE = 's6-svscan-log';

/** event fifodir subscriber names: `ftrig1:@` + 24 hex + `:` + 6 chars = 39 characters */
export const FTRIG_PREFIX = 'ftrig1:@';
export const FTRIG_NAME_LENGTH = 39;
