/*
 * swap: putting a new folder in the place of an old one, on any file system
 * a home may be on (docs/SCALE-OUT.md,
 * "Calls the host makes on the home, and their fallbacks").
 * Where the kernel can exchange two names (RENAME_EXCHANGE: ext4, xfs,
 * btrfs, tmpfs) that is one step. FUSE (GlusterFS, CephFS-fuse), NFS and
 * SMB refuse it; there the old folder is moved aside under a reserved
 * name, the new one moved in, and the aside given back under the new
 * one's old name — three renames, each atomic, any prefix of which a crash
 * may leave behind and swap_recover() finishes or undoes.
 */
#ifndef WEBJOBS_SWAP_H
#define WEBJOBS_SWAP_H

/* The reserved prefix of a folder moved aside: ".swap-{name}.{16 hex}". */
#define SWAP_PREFIX ".swap-"

/* Puts folder src of dfd in the place of folder dst (which may not
 * exist). On success src names the old content (or nothing, when dst did
 * not exist): the caller removes it. -ENOTEMPTY when another writer put a
 * dst in place meanwhile. Returns 0 or -errno. */
int swap_in(int dfd, const char *src, const char *dst);

/* 1 when a reader that found dst missing should keep what it knew of dst
 * and look again: a swap into it is under way (its old content is aside),
 * or dst is there after all (put in place since, or listed where a
 * network client's cache of the name lags). 0 when dst is gone. */
int swap_pending(int dfd, const char *dst);

/* Finishes or undoes the swaps in dfd that a crash interrupted and that
 * have not moved for min_age seconds (another instance may be in the
 * middle of one): an aside whose name is back is removed; an aside whose
 * name is missing goes back. Uploads and staging folders of deploys that
 * a crash cut short are removed after an hour untouched. lock (or -1) is
 * an open file all instances lock in turn around a recovery; it is
 * skipped while another holds it. */
void swap_recover(int dfd, int min_age, int lock);

#endif
