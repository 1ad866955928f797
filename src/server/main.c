/* estd: placeholder until the command table lands. */
#include <stdio.h>
int main(void)
{
    fputs("estd: not built yet\n", stderr);
    return 1;
}
