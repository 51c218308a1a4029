/**
 * The command letters of the two control fifos (s6-protocol.md §5.2, §8.3) and what s6's clients accept.
 * Each letter is one byte written as-is; the supervisor / scanner ignores (or warns about) the others.
 */
import { SIGNALS } from '../sys/signals';

/** s6-svc's letters: signals a b q h k t i 1 2 p c y, states r o d u D U x O Q */
export const SVC_LETTERS = 'abqhkti12pcyroduDUxOQ';
/** s6-svc keeps at most 62 letters ("too many commands" after that) */
export const SVC_MAX_COMMANDS = 62;
/** what -w accepts: wait for up, up+ready, down, down+ready(finish done), restart, restart+ready */
export const SVC_WAIT_LETTERS = 'dDuUrR';

/** s6-svscanctl's letters */
export const SVSCANCTL_LETTERS = 'zabhitqnN';
/**
 * vigil's own byte on .s6-svscan/control (`vigil reexec`): the scanner re-executes itself, keeping every
 * service running. s6-svscan does not know it (a warning, nothing else), and s6-svscanctl cannot send it.
 */
export const SVSCAN_REEXEC = 'R';
/** s6-svscanctl keeps at most 64 letters */
export const SVSCANCTL_MAX_COMMANDS = 64;

/**
 * The signal each plain signal letter of the service control fifo sends to run (s6-protocol.md §5.2). `p` and
 * `c` (STOP/CONT, which also set or clear the paused flag) are handled by the supervisor itself.
 */
export const SVC_LETTER_SIGNALS: Readonly<Record<string, number>> = {
  a: SIGNALS.ALRM, b: SIGNALS.ABRT, q: SIGNALS.QUIT, h: SIGNALS.HUP, k: SIGNALS.KILL, t: SIGNALS.TERM, i: SIGNALS.INT,
  '1': SIGNALS.USR1, '2': SIGNALS.USR2, y: SIGNALS.WINCH,
};
