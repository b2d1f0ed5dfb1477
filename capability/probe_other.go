//go:build !linux && !freebsd && !darwin

package capability

func probe(Feature) Status { return missing("not available on this operating system") }
