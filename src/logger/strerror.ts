/** strerror(3)-style text for an fs/shim error, as s6 prints it after "unable to ...: ". */
const TEXT: Record<string, string> = {
  ENOSPC: 'No space left on device',
  EDQUOT: 'Disk quota exceeded',
  EIO: 'Input/output error',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EEXIST: 'File exists',
  EAGAIN: 'Resource temporarily unavailable',
  EROFS: 'Read-only file system',
  EBADF: 'Bad file descriptor',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EMFILE: 'Too many open files',
  ENFILE: 'Too many open files in system',
  EPIPE: 'Broken pipe',
  EFBIG: 'File too large',
  EINVAL: 'Invalid argument',
  ENOMEM: 'Cannot allocate memory',
  EXDEV: 'Invalid cross-device link',
  EMLINK: 'Too many links',
  ENAMETOOLONG: 'File name too long',
  ELOOP: 'Too many levels of symbolic links',
  EBUSY: 'Device or resource busy',
};

export function strerror(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && TEXT[code]) return TEXT[code];
  const msg = e instanceof Error ? e.message : String(e);
  const m = /^[A-Z0-9]+: ([^,]*)/.exec(msg);
  if (m) return m[1].charAt(0).toUpperCase() + m[1].slice(1);
  return msg;
}
