/*
 * guestmem_linux.h: the one header jextract reads to regenerate dev.guestmem.linux.
 * x86_64 Linux, glibc. _GNU_SOURCE exposes memfd_create, fallocate, accept4, F_ADD_SEALS,
 * MSG_CMSG_CLOEXEC and the FALLOC_FL_* flags.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <linux/memfd.h>
#include <linux/membarrier.h>
#include <linux/userfaultfd.h>
