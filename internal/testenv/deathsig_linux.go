package testenv

import "syscall"

// dieWithParent makes the kernel kill a started process when the test
// binary that started it dies, even by SIGKILL or a go test timeout, when
// no cleanup runs: leaked servers would pile up on a shared machine. (The
// signal follows the OS thread
// that started the process; the Go runtime only ends threads whose
// goroutine locked them and exited, which no test here does.)
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
