package statestore_test

import (
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
)

// The serde package's serdes are statestore serdes.
var (
	_ statestore.Serde[string] = serde.String()
	_ statestore.Serde[int64]  = serde.Int64()
)
