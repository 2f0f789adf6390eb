// The fix for libvips 8.14's threadset race; see threadset.c.
#ifndef IMGEDGE_THREADSET_H
#define IMGEDGE_THREADSET_H

int imgedge_threadset_racy(void);
int imgedge_threadset_fixed(void);
int imgedge_threadset_probe(long long timeout_us);

#endif
