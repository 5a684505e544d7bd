package processor

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDescSetIsARedBlackTree: with sizes that do not change, the tree
// iterates in describeCompare order and keeps the red-black invariants
// (which is what makes its shape, and so the order after sizes change,
// Java's TreeMap's).
func TestDescSetIsARedBlackTree(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var s descSet
		var all []*descNode
		for range r.IntN(60) + 1 {
			d := &descNode{n: &node{name: fmt.Sprintf("n%03d", r.IntN(1000))}, size: r.IntN(4) + 1}
			s.add(d)
			all = append(all, d)
		}
		var got []*descNode
		s.each(func(d *descNode) { got = append(got, d) })
		want := slices.Clone(all)
		slices.SortFunc(want, describeCompare)
		want = slices.CompactFunc(want, func(a, b *descNode) bool { return describeCompare(a, b) == 0 })
		if len(got) != len(want) {
			t.Fatalf("round %d: %d elements, want %d", round, len(got), len(want))
		}
		for i := range got {
			if describeCompare(got[i], want[i]) != 0 {
				t.Fatalf("round %d: element %d is %s, want %s", round, i, got[i].n.name, want[i].n.name)
			}
		}
		if !s.root.black {
			t.Fatalf("round %d: red root", round)
		}
		var height func(n *rbNode) int
		height = func(n *rbNode) int {
			if n == nil {
				return 1
			}
			if !n.black && (!isBlack(n.child[left]) || !isBlack(n.child[right])) {
				t.Fatalf("round %d: red node %s has a red child", round, n.d.n.name)
			}
			for _, c := range n.child {
				if c != nil && c.parent != n {
					t.Fatalf("round %d: wrong parent link", round)
				}
			}
			l, rh := height(n.child[left]), height(n.child[right])
			if l != rh {
				t.Fatalf("round %d: black heights %d and %d under %s", round, l, rh, n.d.n.name)
			}
			if n.black {
				l++
			}
			return l
		}
		height(s.root)
	}
}
