/* steps.c — check a lesson's steps in order, each by its tests (run.c),
 * with faults made on purpose in the steps exercise.conf names when
 * --chaos is on, and the fault a failing test did not survive found
 * (chaos.c).
 */
#include <string.h>

#include "check.h"

int ex_check_steps(const struct ex_paths *p, const struct ex_lesson *l,
		   const char *build, const struct ex_check_opts *o,
		   void (*on_step)(const struct ex_lesson *, int,
				   const struct ex_step_result *, void *),
		   void *arg, struct ex_step_result *results, char *err)
{
	struct ex_check_opts so;
	int passed = 0, failed = 0;

	for (int i = 0; i < l->nsteps; i++) {
		const struct ex_step *s = &l->steps[i];
		struct ex_step_result *res = &results[i];

		memset(res, 0, sizeof(*res));
		if ((failed && !o->keep_going) || (o->only_step != 0 && s->number != o->only_step)) {
			res->outcome = EX_NOTRUN;
			continue;
		}
		if (on_step != NULL)
			on_step(l, i, NULL, arg);
		res->outcome = EX_PASS;
		/* --chaos makes faults only in the steps exercise.conf names. */
		so = *o;
		so.chaos = o->chaos && l->chaos[i];
		for (int t = 0; t < s->ntests; t++) {
			struct ex_test_result tr;


			if (ex_run_test(p, l, build, s->tests[t], &so, &tr, err) < 0)
				return -1;
			if (so.chaos && tr.outcome != EX_PASS && tr.outcome != EX_SKIP &&
			    tr.outcome != EX_STOPPED && ex_chaos_explain(p, l, build, &so, &tr, err) < 0)
				return -1;
			res->ran++;
			res->ms += tr.ms;
			if (tr.outcome == EX_STOPPED) {
				ex_err(err, "interrupted");
				return -1;
			}
			if (tr.outcome == EX_SKIP) {
				res->skipped++;
				res->failed = tr; /* what it said, should all skip */
				continue;
			}
			if (tr.outcome != EX_PASS) {
				res->outcome = tr.outcome;
				res->failed = tr;
				break;
			}
		}
		/* Every test skipped itself (no root, a missing tool): nothing
		 * was checked, so the step is not done. */
		if (res->outcome == EX_PASS && res->ran > 0 && res->skipped == res->ran)
			res->outcome = EX_SKIP;
		if (res->outcome == EX_PASS)
			passed++;
		else
			failed = 1;
		if (on_step != NULL)
			on_step(l, i, res, arg);
	}
	return passed;
}
