// Command app is one instance of the EOS system test's application (see
// package eosapp). It runs until SIGTERM, then closes gracefully; the harness
// also kill -9s it.
//
//	app -brokers 127.0.0.1:29092 -app-id eos-x -topic-prefix eos-x- -state-dir DIR -guarantee exactly_once_v2
package main

import (
	"os"

	"github.com/sluicestreams/sluice/eostest/eosapp"
)

func main() { os.Exit(eosapp.Main(os.Args[1:], os.Stderr)) }
