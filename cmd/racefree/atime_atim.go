//go:build unix && !darwin && !freebsd && !netbsd

package main

import (
	"syscall"
	"time"
)

func accessTime(st *syscall.Stat_t) time.Time { return time.Unix(st.Atim.Unix()) }
