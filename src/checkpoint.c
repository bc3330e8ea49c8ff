/* checkpoint.c - see checkpoint.h
 *
 * How the WAL goes round, with F = FINISH_AT:
 *   1. Commits append frames; each one reports the WAL size here.
 *   2. Once CKPT_FRAMES frames wait to be copied, the thread runs a PASSIVE
 *      checkpoint on its own connection: copy, sync the database file.  The
 *      writer carries on meanwhile; its commits keep appending.
 *   3. Once the WAL holds F frames, the thread brings the backlog down to
 *      FINISH_MAX frames and the writer, right after a commit and while the
 *      thread is between rounds, copies those last few frames itself: one
 *      short sync (finish_due says how large commits are handled).  Nothing
 *      is appended between that and its next BEGIN, which therefore finds
 *      every frame copied and restarts the WAL from its beginning (unless a
 *      handler's connection wrote meanwhile, or a reader still uses the old
 *      frames: the writer tries again FINISH_RETRY frames later).
 *   That last step is the only checkpoint work left on the commit path: one
 *   short copy and database sync per F frames, where SQLite's default did a
 *   full copy and sync per 1000 frames inside a COMMIT.
 * Readers holding an old snapshot can prevent the restart; past RESTART_FRAMES,
 * once no more than RESTART_BACKLOG frames are left to copy, the thread also
 * tries a RESTART checkpoint, which waits for them (at most once a second and
 * for at most BUSY_TIMEOUT_MS, holding up writers meanwhile).
 */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clocks.h"
#include "log.h"
#include "paced_vfs.h"

/* Frames waiting that start a round.  Smaller than SQLite's 1000: each round
 * ends with a sync of the database file, and while the disk flushes 4 MiB the
 * commits' WAL syncs wait behind it (p99 15 ms here, against 6-9 ms with 1 MiB
 * rounds, for 3 us more CPU per event in this thread). */
#define CKPT_FRAMES      250
#define FINISH_AT        8000  /* WAL size (32 MiB of 4 KiB pages) at which it is restarted */
#define FINISH_MAX       256   /* most frames the writer copies itself (1 MiB) */
#define FINISH_RETRY     1000  /* frames after a finish that did not restart the WAL */
#define RESTART_FRAMES   32000 /* WAL size at which readers are waited for */
#define RESTART_EVERY_MS 1000  /* between two such attempts */
#define RESTART_BACKLOG  1024  /* most frames left to copy for one (4 MiB: ~10-20 ms) */
#define IDLE_MS          1000  /* no commit for this long: truncate the WAL file */
#define BUSY_TIMEOUT_MS  20    /* RESTART/TRUNCATE: longest wait for the writer and readers */

struct ch_checkpointer {
	sqlite3 *db;          /* the thread's own connection */
	const char *wal_path; /* owned by db */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* guarded by lock */
	int frames;       /* WAL size after the last commit reported */
	int backfilled;   /* frames of this WAL known to be copied to the database */
	int finish_tried; /* WAL size at the writer's last finishing attempt */
	unsigned wal_gen; /* bumped when the WAL restarts: results of older rounds are stale */
	bool reported;    /* a commit was reported since the thread last looked */
	bool busy;        /* a checkpoint is running (thread or writer) */
	bool stopping;
	int page_size;      /* of the journal: where a frame sits in the WAL file */
	int logged_rc;      /* last failure logged, so a persistent one is logged once */
	int64_t restart_ms; /* thread only: last RESTART attempt */
};

/* Log a failure once per distinct code; SQLITE_BUSY (someone else is
 * checkpointing, or readers are in the way) is expected and silent. */
static void note_result(struct ch_checkpointer *c, sqlite3 *db, int rc, const char *who)
{
	if (rc == SQLITE_OK || (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
		if (rc == SQLITE_OK)
			c->logged_rc = 0;
		return;
	}
	if (rc != c->logged_rc)
		ch_warn("checkpoint (%s): %s (sqlite error %d); the WAL grows until it succeeds",
		        who, sqlite3_errmsg(db), rc);
	c->logged_rc = rc;
}

/* Is a round due on the thread?  (lock held) */
static bool due(const struct ch_checkpointer *c)
{
	int backlog = c->frames - c->backfilled;

	if (!c->reported || c->busy || c->stopping || backlog <= 0)
		return false;
	/* Past FINISH_AT, leave a short backlog to the writer's finish. */
	return backlog >= CKPT_FRAMES || (c->frames >= FINISH_AT && backlog > FINISH_MAX);
}

/* Record a checkpoint's result if the WAL is still the one it copied.  (lock held) */
static void record(struct ch_checkpointer *c, unsigned gen, int rc, int ckpt)
{
	if (rc == SQLITE_OK && gen == c->wal_gen && ckpt > c->backfilled)
		c->backfilled = ckpt < c->frames ? ckpt : c->frames;
}

/* The WAL grew past CH_WAL_SIZE_LIMIT (a reader held an old snapshot) and
 * its first `copied` frames are in the database now.  When the WAL restarts,
 * the writer's first commit cuts the file back to the limit, and the kernel
 * drops the cut part's cached pages inside that ftruncate, holding the file's
 * lock: 280-330 ms for 830 MiB, a commit every request of its group waited
 * for.  Dropping the copied part's cached pages here first, off the commit
 * path, leaves that truncate little to do.  Only clean pages go (a reader
 * that still wants one reads it from the disk); nothing is lost. */
static void drop_copied_tail(const struct ch_checkpointer *c, int copied)
{
	off_t end = 32 + (off_t)copied * (24 + c->page_size); /* WAL header, frame headers */
	int fd;

	if (c->wal_path == NULL || c->page_size <= 0 || end <= CH_WAL_SIZE_LIMIT)
		return;
	if ((fd = open(c->wal_path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	posix_fadvise(fd, CH_WAL_SIZE_LIMIT, end - CH_WAL_SIZE_LIMIT, POSIX_FADV_DONTNEED);
	close(fd);
}

/* One round on the thread.  (lock held; released while it runs) */
static void round_on_thread(struct ch_checkpointer *c)
{
	int mode = SQLITE_CHECKPOINT_PASSIVE, log = -1, ckpt = -1, rc;
	unsigned gen = c->wal_gen;
	int64_t now = ch_clock_us(CLOCK_MONOTONIC) / 1000;

	/* A RESTART copies like a PASSIVE round but holds new writers off the
	 * whole time: only worth it, and only short, once little is left to copy
	 * and the readers are all that keep the WAL from restarting.  With a big
	 * backlog (a reader just let go of 900 MiB) it stalled intake ~1 s. */
	if (c->frames >= RESTART_FRAMES && c->frames - c->backfilled <= RESTART_BACKLOG &&
	    now - c->restart_ms >= RESTART_EVERY_MS) {
		mode = SQLITE_CHECKPOINT_RESTART;
		c->restart_ms = now;
	}
	c->reported = false;
	c->busy = true;
	pthread_mutex_unlock(&c->lock);
	rc = sqlite3_wal_checkpoint_v2(c->db, NULL, mode, &log, &ckpt);
	if (rc == SQLITE_OK)
		drop_copied_tail(c, ckpt);
	pthread_mutex_lock(&c->lock);
	c->busy = false;
	record(c, gen, rc, ckpt);
	note_result(c, c->db, rc, "background");
	ch_debug("checkpoint: %s rc=%d wal=%d copied=%d",
	         mode == SQLITE_CHECKPOINT_PASSIVE ? "passive" : "restart", rc, log, ckpt);
}

/* Does the WAL file hold anything?  (A missing file holds nothing.) */
static bool wal_in_use(const struct ch_checkpointer *c)
{
	struct stat st;

	return c->wal_path != NULL && stat(c->wal_path, &st) == 0 && st.st_size > 0;
}

/* No commit for IDLE_MS: copy what is left and cut the WAL file to zero
 * bytes.  (lock held; released while it runs) */
static void truncate_when_idle(struct ch_checkpointer *c)
{
	int log = -1, ckpt = -1, rc;
	unsigned gen = c->wal_gen;

	c->busy = true;
	pthread_mutex_unlock(&c->lock);
	rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &ckpt);
	pthread_mutex_lock(&c->lock);
	c->busy = false;
	if (rc == SQLITE_OK && gen == c->wal_gen && !c->reported) {
		c->frames = c->backfilled = c->finish_tried = 0;
		c->wal_gen++;
	}
	note_result(c, c->db, rc, "idle truncate");
	ch_debug("checkpoint: truncate rc=%d wal=%d copied=%d", rc, log, ckpt);
}

static void *checkpoint_main(void *arg)
{
	struct ch_checkpointer *c = arg;

	pthread_setname_np(pthread_self(), "ch-checkpoint"); /* for top -H, perf */
	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		struct timespec deadline;

		if (due(c)) {
			round_on_thread(c);
			continue;
		}
		/* No round due: look again after IDLE_MS.  If the writer was
		 * silent all that time, empty the WAL: what is in it came
		 * before, or from other connections (handler workers), which do
		 * not report here. */
		c->reported = false;
		deadline = ch_deadline_us(CLOCK_REALTIME, (int64_t)IDLE_MS * 1000);
		if (pthread_cond_timedwait(&c->wake, &c->lock, &deadline) == ETIMEDOUT &&
		    !c->reported && !c->stopping && !c->busy && wal_in_use(c))
			truncate_when_idle(c);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* On the writer thread, between its transactions: copy the last few frames
 * so that its next BEGIN restarts the WAL (see the top of the file). */
static void finish_on_writer(struct ch_checkpointer *c, sqlite3 *db)
{
	int log = -1, ckpt = -1, rc;
	unsigned gen = c->wal_gen;

	c->busy = true;
	c->finish_tried = c->frames;
	pthread_mutex_unlock(&c->lock);
	rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &ckpt);
	pthread_mutex_lock(&c->lock);
	c->busy = false;
	record(c, gen, rc, ckpt);
	note_result(c, db, rc, "writer");
	ch_debug("checkpoint: writer finish rc=%d wal=%d copied=%d", rc, log, ckpt);
}

/* Should the writer finish now?  (lock held)  The backlog left to it is at
 * most FINISH_MAX frames, or twice what this commit added: commits of
 * hundreds of rows each add more than FINISH_MAX frames, so the backlog never
 * gets that low, and copying about one commit's worth is in proportion to
 * what the commit itself cost.  Past RESTART_FRAMES the WAL is finished
 * whatever it costs, so that it never grows without bound. */
static bool finish_due(const struct ch_checkpointer *c, int added)
{
	int backlog = c->frames - c->backfilled;
	int limit = added > FINISH_MAX / 2 ? 2 * added : FINISH_MAX;

	if (c->frames < FINISH_AT || c->busy)
		return false;
	/* Retry a finish that did not restart the WAL (a reader in the way)
	 * only after FINISH_RETRY more frames: not a sync per commit. */
	if (c->finish_tried != 0 && c->frames < c->finish_tried + FINISH_RETRY)
		return false;
	return backlog <= limit || c->frames >= RESTART_FRAMES;
}

void ch_checkpointer_notify(struct ch_checkpointer *c, sqlite3 *db, int frames)
{
	int added;

	pthread_mutex_lock(&c->lock);
	if (frames < c->frames) { /* the WAL restarted from its beginning */
		c->backfilled = c->finish_tried = 0;
		c->wal_gen++;
		added = frames;
	} else {
		added = frames - c->frames;
	}
	c->frames = frames;
	c->reported = true;
	if (finish_due(c, added))
		finish_on_writer(c, db);
	if (due(c))
		pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
}

static int open_fail(struct ch_error *err, const char *path, sqlite3 *db)
{
	return ch_error_set(err, 500, "StoreOpenFailed",
	                    "cannot open journal %s for checkpoints: %s", path,
	                    db != NULL ? sqlite3_errmsg(db) : "out of memory");
}

int ch_checkpointer_start(const char *path, enum ch_store_sync sync, int page_size,
                          struct ch_checkpointer **out, struct ch_error *err)
{
	struct ch_checkpointer *c;
	const char *sync_sql = sync == CH_SYNC_OFF      ? "PRAGMA synchronous=OFF"
	                       : sync == CH_SYNC_NORMAL ? "PRAGMA synchronous=NORMAL"
	                                                : "PRAGMA synchronous=FULL";

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	/* Its copies into the database file reach the disk in small steps
	 * (paced_vfs.h), never as one flush that commits' syncs queue behind. */
	if (ch_paced_vfs_register() != SQLITE_OK ||
	    sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	                    CH_PACED_VFS_NAME) != SQLITE_OK ||
	    sqlite3_extended_result_codes(c->db, 1) != SQLITE_OK ||
	    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS) != SQLITE_OK ||
	    sqlite3_exec(c->db, sync_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    /* It never writes, but say so: it must never checkpoint on commit. */
	    sqlite3_exec(c->db, "PRAGMA wal_autocheckpoint=0", NULL, NULL, NULL) != SQLITE_OK) {
		open_fail(err, path, c->db);
		sqlite3_close(c->db);
		free(c);
		return -1;
	}
	c->wal_path = sqlite3_filename_wal(sqlite3_db_filename(c->db, "main"));
	c->page_size = page_size;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	if (pthread_create(&c->thread, NULL, checkpoint_main, c) != 0) {
		ch_error_set(err, 500, "StoreOpenFailed", "cannot start the checkpoint thread");
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->wake);
		sqlite3_close(c->db);
		free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void ch_checkpointer_stop(struct ch_checkpointer *c)
{
	int rc;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	rc = sqlite3_close(c->db);
	if (rc != SQLITE_OK)
		ch_warn("checkpoint: close failed: %s", sqlite3_errstr(rc));
	free(c);
}
