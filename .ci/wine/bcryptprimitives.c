/* A stand-in for Windows' bcryptprimitives.dll, for Wine 8 only.
 *
 * Rust's std (1.78+) gets random bytes on Windows from ProcessPrng in
 * bcryptprimitives.dll (Windows 10+). Wine 8.0 has no such DLL, so every Rust .exe
 * stops at load time with status c0000135. Wine 9 ships the DLL; real Windows always
 * has it. CI builds this with mingw and copies it into the Wine prefix's system32.
 *
 * ProcessPrng(PBYTE, SIZE_T) always returns TRUE on Windows; here the bytes come from
 * RtlGenRandom (advapi32's SystemFunction036), which Wine implements.
 */
#include <windows.h>

/* advapi32 exports RtlGenRandom under this name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
