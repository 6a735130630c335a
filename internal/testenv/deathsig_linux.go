package testenv

import "syscall"

// dieWithParent makes the kernel kill a started process when the test
// binary that started it dies, even by SIGKILL or a go test timeout, when
// no cleanup runs: a leaked timestamp-server keeps the machine-wide port
// 2112 and every later TSA test fails. (The signal follows the OS thread
// that started the process; the Go runtime only ends threads whose
// goroutine locked them and exited, which no test here does.)
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
