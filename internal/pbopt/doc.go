// Package pbopt is an anytime lexicographic pseudo-boolean optimiser.
package pbopt
