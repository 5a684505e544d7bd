package processor

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
)

// ErrUnknownStore is matched by the error of Context.StateStore when the
// processor is not connected to the store.
var ErrUnknownStore = errors.New("processor: unknown state store")

// NodeError is an error raised in a node: by a processor's Init, Process or
// Close, or by a sink serializing or sending. The runtime adds the task,
// topic, partition and offset around it.
type NodeError struct {
	Node string
	Op   string // "init", "process", "close", "serialize key", ...
	Err  error
}

func (e *NodeError) Error() string {
	return "processor: node " + strconv.Quote(e.Node) + " " + e.Op + ": " + e.Err.Error()
}

func (e *NodeError) Unwrap() error { return e.Err }

// wrapNode names the node an error came from, unless a node further down
// already did.
func wrapNode(node string, err error) error {
	var ne *NodeError
	if errors.As(err, &ne) {
		return err
	}
	var de *DeserializationError
	if errors.As(err, &de) {
		return err
	}
	return &NodeError{Node: node, Op: "process", Err: err}
}

// DeserializationError is returned when a source cannot deserialize a
// consumed record's key or value. The runtime's deserialization handler
// decides whether to fail, skip, or send the record to a dead-letter topic.
type DeserializationError struct {
	Node      string
	Topic     string
	Partition int32
	Offset    int64
	Key       bool // the key failed; otherwise the value
	Err       error
}

func (e *DeserializationError) Error() string {
	what := "value"
	if e.Key {
		what = "key"
	}
	return fmt.Sprintf("processor: source %q cannot deserialize the %s of %s[%d]@%d: %v", e.Node, what, e.Topic, e.Partition, e.Offset, e.Err)
}

func (e *DeserializationError) Unwrap() error { return e.Err }

// StoreTypeError is returned by GetStore when the store is not of the type
// asked for.
type StoreTypeError struct {
	Store     string
	Want, Got string
}

func (e *StoreTypeError) Error() string {
	return fmt.Sprintf("processor: state store %q is a %s, not a %s", e.Store, e.Got, e.Want)
}

func typeName[T any]() string { return reflect.TypeFor[T]().String() }

func typeNameOf(v any) string {
	if v == nil {
		return "<nil>"
	}
	return reflect.TypeOf(v).String()
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
