package main

import (
	"runtime"
	"syscall"
	"unsafe"
)

// forkExec starts path with a plain fork, not the CLONE_VM|CLONE_VFORK
// clone that os/exec and syscall.ForkExec use. With a shared address space
// the kernel charges the parent's peak RSS to the child at execve, so
// ru_maxrss would measure the launcher instead of the program. A plain fork
// charges only the anonymous pages the launcher has (a few hundred KiB),
// which Result.LauncherAnonKiB reports.
//
// Between fork and execve the child runs only raw system calls on memory
// prepared here: it is a copy of one thread of a Go program and must not
// allocate, grow its stack or reach the scheduler.
func forkExec(path string, argv, env []string, fds [3]int) (int, error) {
	argv0, err := syscall.BytePtrFromString(path)
	if err != nil {
		return 0, err
	}
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return 0, err
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return 0, err
	}
	p0 := uintptr(unsafe.Pointer(argv0))
	pa := uintptr(unsafe.Pointer(&argvp[0]))
	pe := uintptr(unsafe.Pointer(&envp[0]))
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if pid == 0 && errno == 0 {
		for target, fd := range fds {
			if _, _, e := syscall.RawSyscall(syscall.SYS_DUP3, uintptr(fd), uintptr(target), 0); e != 0 {
				syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 126, 0, 0)
			}
		}
		syscall.RawSyscall(syscall.SYS_EXECVE, p0, pa, pe)
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 127, 0, 0)
	}
	runtime.KeepAlive(argv0)
	runtime.KeepAlive(argvp)
	runtime.KeepAlive(envp)
	if errno != 0 {
		return 0, errno
	}
	return int(pid), nil
}
