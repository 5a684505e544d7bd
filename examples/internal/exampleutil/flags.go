package exampleutil

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// Options are the command-line flags every example takes.
type Options struct {
	// Brokers is -brokers: comma-separated; empty starts an embedded cluster.
	Brokers string
	// Input is -input: the file the example feeds in before printing its
	// final counts; empty runs until interrupted.
	Input             string
	AppID             string
	InTopic, OutTopic string
	// StateDir is -state-dir; empty uses a temporary directory.
	StateDir string
	// Partitions of the topics the example creates.
	Partitions int
}

// Main declares the flags with the example's defaults (inputHelp describes
// its -input), parses them, and calls run until SIGINT. An error is printed
// after the command's name and exits 1.
func Main(name string, defaults Options, inputHelp string, run func(context.Context, Options, io.Writer) error) {
	o := defaults
	flag.StringVar(&o.Brokers, "brokers", "", "comma-separated Kafka brokers; empty runs an embedded cluster")
	flag.StringVar(&o.Input, "input", "", inputHelp)
	flag.StringVar(&o.AppID, "app", o.AppID, "application.id")
	flag.StringVar(&o.InTopic, "in", o.InTopic, "input topic")
	flag.StringVar(&o.OutTopic, "out", o.OutTopic, "output topic")
	flag.StringVar(&o.StateDir, "state-dir", "", "state directory (default: a temporary one)")
	flag.IntVar(&o.Partitions, "partitions", max(o.Partitions, 1), "partitions of the topics the program creates")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, o, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// FeedLines is a CountingRun.Feed that produces the lines of the file at
// path to topic.
func FeedLines(topic, path string) func(context.Context, []string) error {
	return func(ctx context.Context, brokers []string) error {
		_, err := ProduceLines(ctx, brokers, topic, path)
		return err
	}
}
