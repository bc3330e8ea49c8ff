/* paced_vfs.c - see paced_vfs.h */
#include "paced_vfs.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define PACED_FLUSH_AFTER (256 * 1024) /* bytes; PostgreSQL's default too */

/* The main database file: ours first, the default VFS's right after it. */
struct paced_file {
	sqlite3_file base;
	sqlite3_file *real;
	int fd;                 /* our own descriptor of the file, for sync_file_range; -1: none */
	sqlite3_int64 from, to; /* the range written since the last flush */
	sqlite3_int64 since_flush; /* bytes written since then */
};

static sqlite3_vfs paced_vfs;
static sqlite3_vfs *default_vfs;
static sqlite3_io_methods paced_methods;
static pthread_once_t registered = PTHREAD_ONCE_INIT;
static int register_rc;
static atomic_ulong flushes;

static sqlite3_file *real_of(sqlite3_file *f)
{
	return ((struct paced_file *)f)->real;
}

/* Write out what was written since the last flush and wait for it. */
static void flush_written(struct paced_file *p)
{
	if (p->fd >= 0 && p->to > p->from &&
	    sync_file_range(p->fd, p->from, p->to - p->from,
	                    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
	                        SYNC_FILE_RANGE_WAIT_AFTER) == 0)
		atomic_fetch_add(&flushes, 1);
	p->from = p->to = p->since_flush = 0;
}

static int paced_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	struct paced_file *p = (struct paced_file *)f;
	int rc = p->real->pMethods->xWrite(p->real, buf, amt, off);

	if (rc != SQLITE_OK)
		return rc;
	if (p->since_flush == 0 || off < p->from)
		p->from = off;
	if (p->since_flush == 0 || off + amt > p->to)
		p->to = off + amt;
	p->since_flush += amt;
	if (p->since_flush >= PACED_FLUSH_AFTER)
		flush_written(p);
	return SQLITE_OK;
}

static int paced_close(sqlite3_file *f)
{
	struct paced_file *p = (struct paced_file *)f;
	int rc = p->real->pMethods->xClose(p->real);

	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	return rc;
}

static int paced_sync(sqlite3_file *f, int flags)
{
	struct paced_file *p = (struct paced_file *)f;

	p->from = p->to = p->since_flush = 0; /* the sync writes out the rest */
	return p->real->pMethods->xSync(p->real, flags);
}

/* Everything else is the default VFS's own. */
static int paced_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
	return real_of(f)->pMethods->xRead(real_of(f), b, n, off);
}
static int paced_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return real_of(f)->pMethods->xTruncate(real_of(f), size);
}
static int paced_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return real_of(f)->pMethods->xFileSize(real_of(f), size);
}
static int paced_lock(sqlite3_file *f, int level)
{
	return real_of(f)->pMethods->xLock(real_of(f), level);
}
static int paced_unlock(sqlite3_file *f, int level)
{
	return real_of(f)->pMethods->xUnlock(real_of(f), level);
}
static int paced_check_lock(sqlite3_file *f, int *out)
{
	return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
static int paced_control(sqlite3_file *f, int op, void *arg)
{
	return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
static int paced_sector(sqlite3_file *f)
{
	return real_of(f)->pMethods->xSectorSize(real_of(f));
}
static int paced_device(sqlite3_file *f)
{
	return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}
static int paced_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
	return real_of(f)->pMethods->xShmMap(real_of(f), region, size, extend, pp);
}
static int paced_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}
static void paced_shm_barrier(sqlite3_file *f)
{
	real_of(f)->pMethods->xShmBarrier(real_of(f));
}
static int paced_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return real_of(f)->pMethods->xShmUnmap(real_of(f), delete_flag);
}
static int paced_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	return real_of(f)->pMethods->xFetch(real_of(f), off, amt, pp);
}
static int paced_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

static int paced_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
                      int *out_flags)
{
	struct paced_file *p = (struct paced_file *)f;
	int rc;

	(void)vfs;
	/* Not the main database (the WAL, a temporary file): the default VFS's
	 * file in our slot, its own methods, nothing of ours in the way. */
	if (!(flags & SQLITE_OPEN_MAIN_DB) || name == NULL)
		return default_vfs->xOpen(default_vfs, name, f, flags, out_flags);
	memset(p, 0, sizeof(*p));
	p->real = (sqlite3_file *)(p + 1);
	p->fd = -1;
	rc = default_vfs->xOpen(default_vfs, name, p->real, flags, out_flags);
	if (rc != SQLITE_OK)
		return rc; /* p->base.pMethods stays NULL: SQLite closes nothing */
	/* The default VFS's methods must be the full set this table forwards to. */
	if (p->real->pMethods->iVersion < 3) {
		p->real->pMethods->xClose(p->real);
		return SQLITE_CANTOPEN;
	}
	p->fd = open(name, O_RDONLY | O_CLOEXEC); /* without it: no pacing, no harm */
	p->base.pMethods = &paced_methods;
	return SQLITE_OK;
}

static void register_once(void)
{
	default_vfs = sqlite3_vfs_find(NULL);
	if (default_vfs == NULL) {
		register_rc = SQLITE_ERROR;
		return;
	}
	paced_vfs = *default_vfs;
	paced_vfs.pNext = NULL;
	paced_vfs.zName = CH_PACED_VFS_NAME;
	paced_vfs.szOsFile = (int)sizeof(struct paced_file) + default_vfs->szOsFile;
	paced_vfs.xOpen = paced_open;
	paced_methods = (sqlite3_io_methods){
	    .iVersion = 3,
	    .xClose = paced_close,
	    .xRead = paced_read,
	    .xWrite = paced_write,
	    .xTruncate = paced_truncate,
	    .xSync = paced_sync,
	    .xFileSize = paced_size,
	    .xLock = paced_lock,
	    .xUnlock = paced_unlock,
	    .xCheckReservedLock = paced_check_lock,
	    .xFileControl = paced_control,
	    .xSectorSize = paced_sector,
	    .xDeviceCharacteristics = paced_device,
	    .xShmMap = paced_shm_map,
	    .xShmLock = paced_shm_lock,
	    .xShmBarrier = paced_shm_barrier,
	    .xShmUnmap = paced_shm_unmap,
	    .xFetch = paced_fetch,
	    .xUnfetch = paced_unfetch,
	};
	register_rc = sqlite3_vfs_register(&paced_vfs, 0);
}

int ch_paced_vfs_register(void)
{
	pthread_once(&registered, register_once);
	return register_rc;
}

unsigned long ch_paced_vfs_flushes(void)
{
	return atomic_load(&flushes);
}
