/**
 * Fixture for test/sys/fdwatch.test.ts: a poll callback that throws must surface as an ordinary uncaught
 * exception on the loop (catchable by process.on('uncaughtException'), exit 1 + stack without a listener),
 * never a C-level abort. `node sys-pollthrow.js catch|nocatch`.
 */
import { native } from '../../src/sys/native';
import { watchReadable } from '../../src/sys/fdwatch';

const n = native();
const [r, w] = n.pipe(true);
if (process.argv[2] === 'catch') {
  process.on('uncaughtException', (e) => {
    process.stdout.write(`caught ${e.message}\n`, () => process.exit(0));
  });
}
const watch = watchReadable(r, () => {
  watch.stop();
  throw new Error('boom-from-poll-callback');
});
n.write(w, Buffer.from('x'), 0, 1);
setTimeout(() => {
  process.stdout.write('callback never ran\n');
  process.exit(3);
}, 5000);
