// Command hello does nothing but start and print a line: the cost of
// starting any static Go program, which no change to portenv can remove.
package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
