from cpi_link.cli import console

if __name__ == "__main__":
    console()
