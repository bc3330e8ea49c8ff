/* th_nosym.c - a shared object that is not a handler (no entry symbol). */
int th_nosym_something(void);
int th_nosym_something(void)
{
	return 42;
}
