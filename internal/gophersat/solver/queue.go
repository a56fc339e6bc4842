/******************************************************************************************[Heap.h]
Copyright (c) 2003-2006, Niklas Een, Niklas Sorensson
Copyright (c) 2007-2010, Niklas Sorensson

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
**************************************************************************************************/

package solver

// A heap implementation with support for decrease/increase key. This is
// strongly inspired from Minisat's mtl/Heap.h.

type queue struct {
	activity []float64 // Activity of each variable. This should be the solver's slice, not a copy.
	content  []int     // Actual content.
	indices  []int     // Reverse queue, i.e position of each item in content; -1 means absence.
}

func newQueue(activity []float64) queue {
	q := queue{
		activity: activity,
	}
	for i := range q.activity {
		q.insert(i)
	}
	return q
}

// Traversal functions.
func left(i int) int   { return i*2 + 1 }
func right(i int) int  { return (i + 1) * 2 }
func parent(i int) int { return (i - 1) >> 1 }

// percolateUp and percolateDown make upstream's comparisons (its lt(i, j):
// activity[i] > activity[j]) in upstream's order, on local copies of the
// slices and of the moving item's activity: on small problems they are a
// large part of a solve.

func (q *queue) percolateUp(i int) {
	content, indices, activity := q.content, q.indices, q.activity
	x := content[i]
	ax := activity[x]
	for i != 0 {
		p := parent(i)
		cp := content[p]
		if !(ax > activity[cp]) { // !lt(x, cp)
			break
		}
		content[i] = cp
		indices[cp] = i
		i = p
	}
	content[i] = x
	indices[x] = i
}

func (q *queue) percolateDown(i int) {
	content, indices, activity := q.content, q.indices, q.activity
	n := len(content)
	x := content[i]
	ax := activity[x]
	for left(i) < n {
		child := left(i)
		if r := right(i); r < n && activity[content[r]] > activity[content[child]] { // lt(content[r], content[child])
			child = r
		}
		c := content[child]
		if !(activity[c] > ax) { // !lt(c, x)
			break
		}
		content[i] = c
		indices[c] = i
		i = child
	}
	content[i] = x
	indices[x] = i
}

func (q *queue) empty() bool { return len(q.content) == 0 }

func (q *queue) contains(n int) bool {
	return n < len(q.indices) && q.indices[n] >= 0
}

func (q *queue) decrease(n int) {
	q.percolateUp(q.indices[n])
}

func (q *queue) insert(n int) {
	for i := len(q.indices); i <= n; i++ {
		q.indices = append(q.indices, -1)
	}
	q.indices[n] = len(q.content)
	q.content = append(q.content, n)
	q.percolateUp(q.indices[n])
}

func (q *queue) removeMin() int {
	x := q.content[0]
	q.content[0] = q.content[len(q.content)-1]
	q.indices[q.content[0]] = 0
	q.indices[x] = -1
	q.content = q.content[:len(q.content)-1]
	if len(q.content) > 1 {
		q.percolateDown(0)
	}
	return x
}

// Rebuild the heap from scratch, using the elements in 'ns':
func (q *queue) build(ns []int) {
	for i := range q.content {
		q.indices[q.content[i]] = -1
	}
	q.content = q.content[:0]
	for i, val := range ns {
		q.indices[val] = i
		q.content = append(q.content, val)
	}
	for i := len(q.content)/2 - 1; i >= 0; i-- {
		q.percolateDown(i)
	}
}
