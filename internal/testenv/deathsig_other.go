//go:build !linux

package testenv

import "syscall"

// dieWithParent has no portable equivalent outside Linux: processes a
// killed test binary started outlive it there.
func dieWithParent(*syscall.SysProcAttr) {}
