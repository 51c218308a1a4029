/**
 * The command letters of the two control fifos (s6-protocol.md §5.2, §8.3) and what s6's clients accept.
 * Each letter is one byte written as-is; the supervisor / scanner ignores (or warns about) the others.
 */

/** s6-svc's letters: signals a b q h k t i 1 2 p c y, states r o d u D U x O Q */
export const SVC_LETTERS = 'abqhkti12pcyroduDUxOQ';
/** s6-svc keeps at most 62 letters ("too many commands" after that) */
export const SVC_MAX_COMMANDS = 62;
/** what -w accepts: wait for up, up+ready, down, down+ready(finish done), restart, restart+ready */
export const SVC_WAIT_LETTERS = 'dDuUrR';

/** s6-svscanctl's letters */
export const SVSCANCTL_LETTERS = 'zabhitqnN';
/** s6-svscanctl keeps at most 64 letters */
export const SVSCANCTL_MAX_COMMANDS = 64;

/** the signal each signal letter of the service control fifo sends (by name) */
export const SVC_SIGNAL_LETTERS: Readonly<Record<string, string>> = {
  a: 'SIGALRM', b: 'SIGABRT', q: 'SIGQUIT', h: 'SIGHUP', k: 'SIGKILL', t: 'SIGTERM', i: 'SIGINT',
  '1': 'SIGUSR1', '2': 'SIGUSR2', p: 'SIGSTOP', c: 'SIGCONT', y: 'SIGWINCH',
};
