// Kernel memory that sockets cost, read system-wide: /proc/net/sockstat (TCP sockets in use, and the pages
// their buffers hold: tcp_mem's unit) and /proc/slabinfo (the objects every socket fd is made of).
import { readFileSync } from 'node:fs';

/**
 * Slab caches a connected TCP socket held in an epoll set is made of: the tcp_sock, the socket's inode and
 * dentry, its struct file, its epoll item, and the security module's blobs. (kmalloc caches are shared with
 * everything else and left out.)
 */
const SOCKET_CACHES = ['TCP', 'sock_inode_cache', 'dentry', 'filp', 'eventpoll_epi', 'ep_head', 'lsm_inode_cache', 'lsm_file_cache'];

/** One reading; subtract two with {@link kernelDelta}. */
export interface KernelReading {
  tcpInUse: number;
  /** Pages held by TCP socket buffers (what tcp_mem limits). */
  tcpMemPages: number;
  /** Bytes in {@link SOCKET_CACHES}, or NaN when /proc/slabinfo cannot be read (it needs root). */
  slabBytes: number;
}

export function readKernel(): KernelReading {
  const sockstat = readFileSync('/proc/net/sockstat', 'utf8');
  const tcp = /^TCP: inuse (\d+).* mem (\d+)/m.exec(sockstat);
  let slabBytes = NaN;
  try {
    slabBytes = 0;
    for (const line of readFileSync('/proc/slabinfo', 'utf8').split('\n').slice(2)) {
      const [name, active, , size] = line.split(/\s+/);
      if (SOCKET_CACHES.includes(name)) slabBytes += Number(active) * Number(size);
    }
  } catch {
    slabBytes = NaN;
  }
  return { tcpInUse: Number(tcp?.[1] ?? NaN), tcpMemPages: Number(tcp?.[2] ?? NaN), slabBytes };
}

/** Per-connection kernel figures between two readings (`connections` client–server pairs). */
export function kernelDelta(before: KernelReading, after: KernelReading, connections: number): Record<string, number> {
  return {
    tcpSocketsAdded: after.tcpInUse - before.tcpInUse,
    tcpBufferBytesPerConn: ((after.tcpMemPages - before.tcpMemPages) * 4096) / connections,
    // Both ends of each connection are on this machine: the server's half is about half of it.
    kernelSlabBytesPerConnPair: (after.slabBytes - before.slabBytes) / connections,
  };
}
