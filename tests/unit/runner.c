/*
 * runner - main() shared by every check suite: each check_<module>.c
 * defines module_suite(). Fails when a suite runs zero checks.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

int main(void)
{
	SRunner *sr = srunner_create(module_suite());
	srunner_run_all(sr, CK_NORMAL);
	int run = srunner_ntests_run(sr);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (run == 0) {
		fputs("runner: no checks ran\n", stderr);
		return EXIT_FAILURE;
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
