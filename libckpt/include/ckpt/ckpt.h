/* libckpt: incremental checkpoint/restart of MPI programs into parallel HDF5.
 *
 * C API. Every function returns CKPT_SUCCESS (0) or a negative ckpt_status;
 * ckpt_last_error() describes the most recent failure of the calling thread
 * (naming the call, file, rank and region involved). No function calls exit()
 * and no C++ exception crosses this interface.
 *
 * Typical use (see apps/heat):
 *   ckpt_init(MPI_COMM_WORLD, NULL);
 *   ckpt_protect(0, "grid", grid, n, CKPT_DOUBLE);
 *   ckpt_protect(1, "step", &step, 1, CKPT_INT64);
 *   ckpt_restart_available(&have, &version, &saved_step);
 *   if (have) ckpt_restart();
 *   for (...) { compute(); if (due) ckpt_checkpoint(step); }
 *   ckpt_finalize();
 *
 * Fortran: every argument is a plain C type, so the functions bind through
 * iso_c_binding; pass communicators with ckpt_init_f (an MPI_Fint handle).
 */
#ifndef CKPT_CKPT_H
#define CKPT_CKPT_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. Values are stable: they are part of the ABI. */
typedef enum ckpt_status {
  CKPT_SUCCESS = 0,
  CKPT_ERR_STATE = -1,         /* call out of order (e.g. checkpoint before init) */
  CKPT_ERR_ARGUMENT = -2,      /* bad argument (null pointer, bad id, bad type) */
  CKPT_ERR_CONFIG = -3,        /* unknown configuration key or bad value */
  CKPT_ERR_IO = -4,            /* file system error (missing, unwritable, ...) */
  CKPT_ERR_NO_SPACE = -5,      /* the file system is full (ENOSPC, EDQUOT) */
  CKPT_ERR_MISMATCH = -6,      /* checkpoint does not fit the job (ranks, region size/type) */
  CKPT_ERR_CORRUPT = -7,       /* a stored block or record failed its hash check */
  CKPT_ERR_NO_CHECKPOINT = -8, /* no committed, valid checkpoint exists */
  CKPT_ERR_MPI = -9,           /* an MPI call failed */
  CKPT_ERR_HDF5 = -10,         /* an HDF5 call failed */
  CKPT_ERR_INTERNAL = -11      /* a bug in libckpt: please report it */
} ckpt_status;

/* Element types of a protected region. The type is recorded in the checkpoint
 * and checked on restart together with the element count. */
typedef enum ckpt_type {
  CKPT_BYTE = 0,
  CKPT_CHAR = 1,
  CKPT_INT32 = 2,
  CKPT_UINT32 = 3,
  CKPT_INT64 = 4,
  CKPT_UINT64 = 5,
  CKPT_FLOAT = 6,
  CKPT_DOUBLE = 7
} ckpt_type;

/* Initialise libckpt on a communicator (collective over comm). config_file may
 * be NULL; configuration is otherwise taken from CKPT_<KEY> environment
 * variables and the built-in defaults. The communicator is duplicated: the
 * library's own traffic never mixes with the application's. */
int ckpt_init(MPI_Comm comm, const char *config_file);
/* The same for Fortran callers, with a Fortran communicator handle. */
int ckpt_init_f(MPI_Fint comm, const char *config_file);

/* Register (or re-register, e.g. after a buffer swap) a memory region.
 * id >= 0 identifies the region across runs; name is shown by tools. Calling
 * it again with the same id and the same size only moves the pointer.
 * After ckpt_restart(), a region protected later is restored at once. */
int ckpt_protect(int id, const char *name, void *ptr, size_t count, ckpt_type type);
/* The same with an arbitrary element size in bytes (type recorded as bytes). */
int ckpt_protect_bytes(int id, const char *name, void *ptr, size_t count, size_t elem_size);
int ckpt_unprotect(int id);

/* Register a region that is this rank's piece of a global array: the element
 * type, the array's ndims (1 to 3) global dimensions, and this rank's box in
 * it, offset[d] and local_dims[d] per dimension, all in row-major (C) order,
 * the slowest dimension first (a Fortran caller passes its dimensions
 * reversed). ptr holds the piece's prod(local_dims) elements, row-major; a
 * rank may own an empty piece (a local dimension of 0, ptr may be NULL).
 * Every rank of the session declares the region with the same name, type and
 * global dimensions; at each checkpoint the pieces must tile the array
 * without overlap (CKPT_ERR_MISMATCH naming the region and rank otherwise).
 * Checkpoint files then show it as the typed dataset /regions/<name> of the
 * global shape, and a job with another number of ranks or another
 * decomposition restarts from it: each rank receives exactly its new piece. */
int ckpt_protect_global(int id, const char *name, void *ptr, ckpt_type type, int ndims,
                        const size_t *global_dims, const size_t *offset, const size_t *local_dims);

/* How checkpoints find the changed blocks of a region (config key
 * dirty_tracking sets the default for every region, "auto"). */
typedef enum ckpt_tracking {
  CKPT_TRACKING_AUTO = 0, /* pages for large regions of which few blocks change */
  CKPT_TRACKING_HASH = 1, /* hash every block at every checkpoint */
  CKPT_TRACKING_PAGES = 2 /* hash only the blocks whose pages were written
                             (userfaultfd write-protection, Linux >= 6.7);
                             memory it cannot track is hashed */
} ckpt_tracking;
/* Choose the tracking of protected region id from the next checkpoint on;
 * kept when the region is protected again, dropped by ckpt_unprotect. */
int ckpt_set_tracking(int id, ckpt_tracking mode);

/* Write a checkpoint of every protected region (collective). step is a label
 * recorded with the checkpoint (usually the application's step counter). */
int ckpt_checkpoint(int64_t step);

/* Storage levels of a checkpoint (bits of CheckpointStats::levels in C++). */
#define CKPT_LEVEL_LOCAL 1   /* node-local storage of each rank (local_dir) */
#define CKPT_LEVEL_PARTNER 2 /* a copy on a partner rank's node */
#define CKPT_LEVEL_GLOBAL 4  /* the shared parallel-HDF5 file in dir */

/* Wait until checkpoint `version` (0: the newest) or a newer one is committed
 * on the global level, the shared directory (collective). With a local level
 * checkpoints reach it in the background; this is for applications that must
 * know their state is on the shared file system (e.g. before writing results
 * elsewhere). A version that no flush holds (flush_every > 1) is written now.
 * Returns the error of a failed background flush, naming version and level. */
int ckpt_wait_global(int64_t version);

/* Is there a committed checkpoint in the configured directory (collective)?
 * *exists is 1 or 0; version and step describe the newest committed one and
 * may be NULL. */
int ckpt_restart_available(int *exists, int64_t *version, int64_t *step);

/* Restore every protected region from the newest valid checkpoint
 * (collective). Every block is checked against its stored hash; a damaged
 * version is reported and the previous valid one is used instead. Regions
 * protected after this call are restored when they are protected, until the
 * next checkpoint or ckpt_finalize(). On success *version and *step (may be
 * NULL) tell which checkpoint was restored. */
int ckpt_restart(int64_t *version, int64_t *step);

/* Size of region id of this rank in the checkpoint being restored, in
 * elements of the stored element size (after ckpt_restart, before the next
 * checkpoint). Lets an application size a buffer before protecting it.
 * Returns CKPT_ERR_NO_CHECKPOINT when the restored checkpoint lacks it. */
int ckpt_restart_region_count(int id, size_t *count);

/* Checkpoint on request (collective). *flag becomes 1 on every rank when the
 * configured signal (config key "signal", SIGUSR1 by default) reached any rank
 * since the last checkpoint: call it at each point where a checkpoint could
 * be taken, and checkpoint when it says so. */
int ckpt_need_checkpoint(int *flag);
/* A checkpoint site: call it once per iteration of the main loop, on every
 * rank, with the step just finished. With protocol = blocking (the default)
 * it is collective: ckpt_need_checkpoint, then ckpt_checkpoint(step) when a
 * checkpoint was requested. With protocol = nonblocking it is local and costs
 * a few nanoseconds when nothing is pending: a requested checkpoint is taken
 * by each rank at its own site (its local copy), without waiting for the
 * others; rank 0 commits it later (docs/PROTOCOL.md, section 8). *taken (may
 * be NULL) becomes 1 when this rank checkpointed at this site. Returns
 * CKPT_ERR_STATE once, at a later site, when a nonblocking checkpoint failed
 * on some rank (the message names the rank and the cause). */
int ckpt_site(int64_t step, int *taken);
/* Ask for a checkpoint from this rank alone (local, not collective): it is
 * taken at the next checkpoint sites of every rank. The timer (key
 * checkpoint_interval) and the signal (key signal) request the same way. */
int ckpt_request_checkpoint(void);
/* *flag becomes 1 after a checkpoint that a signal requested, when the
 * configuration asks the run to stop then (key "exit_on_signal", default
 * true). The application should then finalize and exit with
 * CKPT_EXIT_REQUEUE, which the job scripts read as "checkpointed, requeue". */
int ckpt_should_exit(int *flag);
#define CKPT_EXIT_REQUEUE 85

/* Release every resource (collective). The library can be initialised again. */
int ckpt_finalize(void);

/* Description of the most recent error on this thread ("" when none). */
const char *ckpt_last_error(void);
/* Constant name of a status code, e.g. "CKPT_ERR_NO_SPACE". */
const char *ckpt_status_name(int status);

#ifdef __cplusplus
}
#endif

#endif /* CKPT_CKPT_H */
