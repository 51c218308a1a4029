/**
 * Replacing the current process image (vigil re-exec'ing itself, init's stage 1 -> stage 2 hand-over).
 * Node marks fds 0..15 close-on-exec at startup (uv_disable_stdio_inheritance): without clearing the flag
 * the new image would find 0-2 closed and silently lose its output. Children and the subreaper flag survive.
 */
import { native } from './native';
import { envList } from './spawn';

/** execve(file, argv, env) keeping fds 0, 1, 2 and every fd in keepFds open. Only returns by throwing. */
export function execReplace(file: string, argv: string[], env: NodeJS.ProcessEnv | readonly string[], keepFds: readonly number[] = []): never {
  const n = native();
  for (const fd of [0, 1, 2, ...keepFds]) {
    try {
      n.setCloexec(fd, false);
    } catch {
      // a closed fd stays closed
    }
  }
  return n.execve(file, argv, envList(env));
}
