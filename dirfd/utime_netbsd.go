package dirfd

// utimeOmit is UTIME_OMIT from <sys/stat.h>, missing from x/sys/unix here.
const utimeOmit = (1 << 30) - 2
