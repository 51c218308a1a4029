/**
 * The server side of the control socket (LIVE/rc.sock; the format is protocol.ts): accept connections, read
 * each one's request line and the client's fds 0-2 that come with it, hand the request to the manager, write
 * its answer back. Everything non-blocking on the main loop through the shim's uv_poll watchers (no thread
 * pool, no libuv stream); idle = one watcher on the listening socket, no timer.
 *
 * Each connection reads through its fd and writes through a dup of it: the bounded non-blocking writer
 * (sys/sink.ts) watches the dup for writability while the fd itself stays watched for readability (epoll
 * keys on the fd number, so the two watchers do not collide). A client that sends garbage or too much gets
 * one fatal line and is closed; the tree's log gets one warning line naming the client's pid.
 */
import * as fs from 'node:fs';
import { native } from '../sys/native';
import { watchReadable, FdWatch } from '../sys/fdwatch';
import { Sink } from '../sys/sink';
import { closeQuiet } from '../sys/fds';
import { EAGAIN } from '../sys/errors';
import { encode, MAX_REQUEST, parseRequest, Request } from './protocol';

/** bytes an unread client may have waiting before it is dropped */
const CONN_MAX_PENDING = 1 << 20;

/** a connection as handed to the next image of the process (a re-exec): fds by number, bytes in base64 */
export interface ConnState {
  fd: number;
  pid: number;
  fds: number[];
  /** read and not yet handled (after the request: a cancel line in the making) */
  buf: string;
  gotRequest: boolean;
  /** its answer was given: what is held goes out, then it closes */
  exited: boolean;
  /** written and not yet taken by the client */
  held: string;
}

export class Conn {
  /** the client's fds 0, 1, 2 as received (owned here; closed with the connection) */
  fds: number[] = [];
  readonly pid: number;
  private watch: FdWatch | null;
  private readonly sink: Sink;
  private buf = Buffer.alloc(0);
  private gotRequest = false;
  closed = false;
  /** the answer's last line was sent */
  private exited = false;
  /** the client asked to cancel (SIGINT/SIGTERM) */
  onCancel: (() => void) | null = null;
  /** the client went away before its answer */
  onGone: (() => void) | null = null;

  constructor(readonly fd: number, private readonly server: ControlServer, saved?: ConnState) {
    let pid = saved?.pid ?? 0;
    if (!saved) {
      try {
        pid = native().peerCred(fd)[0];
      } catch {
        /* not a unix socket peer: pid 0 */
      }
    }
    this.pid = pid;
    this.sink = new Sink(native().dupCloexec(fd, 3), { max: CONN_MAX_PENDING, onError: () => this.close() });
    this.watch = null;
    if (saved) {
      this.fds = [...saved.fds];
      this.buf = Buffer.from(saved.buf, 'base64');
      this.gotRequest = saved.gotRequest;
      const held = Buffer.from(saved.held, 'base64');
      if (held.length) this.sink.write(held);
      if (saved.exited) {
        this.exited = true;
        const done = () => this.close();
        this.sink.settle(5000).then(done, done);
        return;
      }
    }
    this.watch = watchReadable(fd, () => this.readable());
  }

  /** its request was received / its answer was sent */
  get requested(): boolean {
    return this.gotRequest;
  }

  get answered(): boolean {
    return this.exited;
  }

  /** what the next image needs to carry this connection on (the fds it names stay open across the exec) */
  save(): ConnState {
    return {
      fd: this.fd, pid: this.pid, fds: [...this.fds], buf: this.buf.toString('base64'), gotRequest: this.gotRequest,
      exited: this.exited, held: this.sink.held().toString('base64'),
    };
  }

  /** who: "pid 1234 (vigil)" for log lines */
  who(): string {
    let comm = '';
    try {
      comm = fs.readFileSync(`/proc/${this.pid}/comm`, 'utf8').trim();
    } catch {
      /* gone or no /proc */
    }
    return `pid ${this.pid}${comm ? ` (${comm})` : ''}`;
  }

  private readable(): void {
    const n = native();
    const chunk = Buffer.allocUnsafe(8192);
    for (;;) {
      if (this.closed) return;
      const [r, fds] = n.recvFds(this.fd, chunk, 0, chunk.length);
      if (fds.length) {
        if (this.gotRequest || this.fds.length + fds.length > 3) for (const f of fds) closeQuiet(f);
        else this.fds.push(...fds);
      }
      if (r === -EAGAIN) return;
      if (r <= 0) {
        // EOF or an error: the client is gone
        this.stopReading();
        if (!this.gotRequest) this.close();
        else if (this.onGone) this.onGone();
        return;
      }
      this.buf = Buffer.concat([this.buf, chunk.subarray(0, r)]);
      if (!this.lines()) return;
    }
  }

  /** handle the complete lines received; false once the connection is closed */
  private lines(): boolean {
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl < 0) {
        if (this.buf.length > MAX_REQUEST) {
          this.refuse(`a request longer than ${MAX_REQUEST} bytes`);
          return false;
        }
        return true;
      }
      const line = this.buf.subarray(0, nl).toString('utf8');
      this.buf = this.buf.subarray(nl + 1);
      if (!this.gotRequest) {
        const req = parseRequest(line);
        if (typeof req === 'string') {
          this.refuse(`an invalid request (${req})`);
          return false;
        }
        this.gotRequest = true;
        this.server.dispatch(this, req);
        if (this.closed) return false;
        continue;
      }
      if (line === '{"t":"cancel"}') {
        if (this.onCancel) this.onCancel();
        continue;
      }
      this.refuse('garbage after its request');
      return false;
    }
  }

  private refuse(why: string): void {
    this.server.warn(`control socket: client ${this.who()} sent ${why} - connection closed`);
    this.msg('fatal', `the service manager refused ${why}`);
    this.exit(100);
  }

  send(x: object): void {
    if (!this.closed) this.sink.write(encode(x));
  }

  msg(level: 'info' | 'warning' | 'fatal', text: string): void {
    this.send({ t: 'msg', level, text });
  }

  out(text: string): void {
    this.send({ t: 'out', text });
  }

  /** the answer's last line; the connection closes once it is written (or after a bounded wait) */
  exit(code: number): void {
    if (this.closed) return;
    this.send({ t: 'exit', code });
    this.exited = true;
    this.stopReading();
    this.closeFds();
    const done = () => this.close();
    this.sink.settle(5000).then(done, done);
  }

  private stopReading(): void {
    if (this.watch) {
      this.watch.stop();
      this.watch = null;
    }
  }

  /** close the client's fds (a oneshot already spawned keeps its own copies) */
  closeFds(): void {
    for (const f of this.fds) closeQuiet(f);
    this.fds = [];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopReading();
    this.closeFds();
    this.sink.close();
    closeQuiet(this.fd);
    this.server.forget(this);
  }
}

export class ControlServer {
  private fd = -1;
  private watch: FdWatch | null = null;
  private readonly conns = new Set<Conn>();

  constructor(
    readonly path: string,
    private readonly handler: (conn: Conn, req: Request) => void,
    private readonly log: (line: string) => void,
  ) {}

  /** listen on path (a stale socket file is replaced); mode 0600: only this uid (and root) may connect */
  start(): void {
    try {
      fs.unlinkSync(this.path);
    } catch {
      /* none */
    }
    this.fd = native().unixListen(this.path, 128);
    fs.chmodSync(this.path, 0o600);
    this.watch = watchReadable(this.fd, () => this.acceptAll());
  }

  /**
   * A re-exec: carry on with the listening socket and the connections the previous image handed over (a
   * client that connects during the exec waits in the backlog; one waiting for its answer still gets it).
   * Returns the connections in the order given.
   */
  adopt(fd: number, saved: ConnState[]): Conn[] {
    this.fd = fd;
    this.watch = watchReadable(this.fd, () => this.acceptAll());
    const out = saved.map((c) => new Conn(c.fd, this, c));
    for (const c of out) if (!c.closed) this.conns.add(c);
    return out;
  }

  /** the listening fd and the open connections, for a re-exec (nothing is closed here) */
  handover(): { fd: number; conns: Conn[] } {
    return { fd: this.fd, conns: [...this.conns].filter((c) => !c.closed) };
  }

  private acceptAll(): void {
    for (;;) {
      const c = native().accept(this.fd);
      if (c < 0) {
        if (c !== -EAGAIN) this.warn(`control socket: accept failed (errno ${-c})`);
        return;
      }
      try {
        this.conns.add(new Conn(c, this));
      } catch (e) {
        closeQuiet(c);
        this.warn(`control socket: unable to take a connection: ${(e as Error).message}`);
      }
    }
  }

  dispatch(conn: Conn, req: Request): void {
    try {
      this.handler(conn, req);
    } catch (e) {
      this.warn(`control socket: internal error handling ${req.cmd}: ${(e as Error).message}`);
      conn.msg('fatal', `internal error: ${(e as Error).message}`);
      conn.exit(111);
    }
  }

  forget(conn: Conn): void {
    this.conns.delete(conn);
  }

  warn(text: string): void {
    this.log(`vigil rc: warning: ${text}`);
  }

  stop(): void {
    if (this.watch) this.watch.stop();
    this.watch = null;
    closeQuiet(this.fd);
    this.fd = -1;
    for (const c of [...this.conns]) c.close();
    try {
      fs.unlinkSync(this.path);
    } catch {
      /* gone */
    }
  }
}
