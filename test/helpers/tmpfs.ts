/**
 * A tiny tmpfs the test mounts (root only) so a disk can really fill up, and a filler file that
 * takes every free byte and gives it back. `canMount()` says why not where mounting is impossible
 * (not root, no mount(8), a container without CAP_SYS_ADMIN); CI runs as root, where it must work.
 */
import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Tmpfs {
  dir: string
  /** Writes a file until ENOSPC: the disk is then full to the last byte. */
  fill(): void
  /** Deletes the filler file. */
  free(): void
  /** Unmounts (lazily if something still holds a file open) and removes the mount point. */
  unmount(): void
}

/** Why a tmpfs cannot be mounted here, or null when it can (tried for real, then unmounted). */
export function cannotMount(): string | null {
  if (process.platform !== 'linux') return `tmpfs needs Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root'
  try {
    mountTmpfs(64 * 1024).unmount()
    return null
  } catch (error) {
    return `mount -t tmpfs failed: ${(error as Error).message.split('\n')[0]}`
  }
}

export function mountTmpfs(sizeBytes: number): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tmpfs-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  const filler = join(dir, 'filler')
  let mounted = true
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a')
      try {
        for (const size of [64 * 1024, 4096, 512, 1]) {
          const chunk = Buffer.alloc(size)
          try {
            for (;;) writeSync(fd, chunk)
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
          }
        }
      } finally {
        closeSync(fd)
      }
    },
    free() {
      rmSync(filler, { force: true })
    },
    unmount() {
      if (!mounted) return
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' })
      } catch {
        // A database still open in this process: detach now, the kernel frees it at the last close.
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
      }
      mounted = false
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
