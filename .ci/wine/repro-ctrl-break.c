/* Wine 8.0: GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, 0) fails with
 * ERROR_INVALID_HANDLE (6) even in a console where CTRL_C_EVENT works.
 * Windows documents both events for process group 0:
 * https://learn.microsoft.com/en-us/windows/console/generateconsolectrlevent
 * Build: x86_64-w64-mingw32-gcc -o ctrl.exe repro-ctrl-break.c
 * Run in a pseudo-terminal so Wine gives the process a console:
 *   script -qfec "wine ctrl.exe" /dev/null
 * Wine 8 prints "break: 0 err 6", "c: 1", "handler got 0". */
#include <windows.h>
#include <stdio.h>

static BOOL WINAPI handler(DWORD event)
{
    printf("handler got %lu\n", event);
    fflush(stdout);
    return TRUE;
}

int main(void)
{
    SetConsoleCtrlHandler(handler, TRUE);
    BOOL ok = GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, 0);
    printf("break: %d err %lu\n", ok, GetLastError());
    Sleep(500);
    ok = GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0);
    printf("c: %d err %lu\n", ok, GetLastError());
    Sleep(500);
    return 0;
}
