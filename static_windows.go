package main

// The Windows build links the C and C++ runtimes statically. The camera
// driver (pion/mediadevices' DirectShow code) is C++, so without -static
// MinGW's g++ leaves the .exe needing libstdc++-6.dll and libgcc_s_seh-1.dll,
// which Windows does not have and `make package-windows` does not ship. With
// it the .exe imports system DLLs only (package-windows checks that).
// This is a file of its own so that the flag applies to the whole link
// whichever package's cgo code needs the C++ runtime.

// #cgo windows LDFLAGS: -static
import "C"
