// Package pbopt is an anytime optimiser for pseudo-boolean problems with
// lexicographic objectives: constraints sum(w·lit) >= k over boolean
// variables, and a list of objectives (levels) to minimise one after the
// other. It knows nothing of what the variables stand for; the resolver
// encodes flake versions into it.
//
// # Why core-guided
//
// Finding a good model is easy; proving that none is better is the hard
// part. Descending search (demand a model one cheaper, until there is none)
// ends with a proof that no cheaper model exists, which for a count like
// "fewest versions" is a pigeonhole-like argument a SAT solver takes minutes
// on. Core-guided search proves lower bounds from below instead: solve with
// every costly literal assumed false; the solver's final conflict names a
// set of them (a core) of which one at least must be true, which raises the
// lower bound; the core is then replaced by a count of its true literals
// (a totalizer) whose "at least 2" output becomes a costly literal in turn
// (OLL). When the assumptions hold, the model found costs exactly the lower
// bound: it is optimal. Weights are stratified (the heaviest literals are
// assumed first, the threshold halved each time they hold), literals that
// alone would cost more than the gap to the best model are forced false,
// and every model met on the way is kept when it improves the best one, so
// the search can stop at any time with a model and a proven lower bound on
// each level. On a level of equal weights the cores meet no model before
// the optimum, so a level not proven within a first turn of work takes
// turns with a probe among the literals the cores have named (the optimum
// seldom needs any other), whose models lower the upper bound from the
// other side.
//
// # Shape
//
// One incremental gophersat solver serves every level, so what it learns
// carries over; a proven level is fixed by forcing false every costly
// literal left with a weight, which keeps exactly the models optimal on it.
// The gophersat copy in internal/gophersat provides the assumptions, final
// conflicts, interruption between propagations and the deterministic work
// counter this needs. A work budget (Options.Work) makes a cut-short search
// reproducible, which a deadline cannot; Stop and the context end it within
// milliseconds.
package pbopt
